!
! fpvm3.h: PVM 3.4.6 constants for Fortran programs (INCLUDE 'fpvm3.h').
! Written for this project; names and values are those PVM 3.4 Fortran
! programs were compiled with.
!
! Usable from fixed-form and free-form source alike: comments start
! with '!' in column 1, statements start in column 7 and end before
! column 73, and no statement is continued.
!
! The reduction operators PvmMax, PvmMin, PvmSum and PvmProduct are
! routines, not constants: a program passing one to pvmfreduce
! declares it itself, e.g.  EXTERNAL PvmSum
!

! pvmfspawn flags (added together)
      INTEGER PVMTASKDEFAULT, PVMTASKHOST, PVMTASKARCH
      INTEGER PVMTASKDEBUG, PVMTASKTRACE, PVMMPPFRONT
      INTEGER PVMHOSTCOMPL, PVMNOSPAWNPARENT
      PARAMETER (PVMTASKDEFAULT = 0, PVMTASKHOST = 1)
      PARAMETER (PVMTASKARCH = 2, PVMTASKDEBUG = 4)
      PARAMETER (PVMTASKTRACE = 8, PVMMPPFRONT = 16)
      PARAMETER (PVMHOSTCOMPL = 32, PVMNOSPAWNPARENT = 64)
! ... and their PVM 3.3 spellings
      INTEGER PVMHOST, PVMARCH, PVMDEBUG, PVMTRACE
      PARAMETER (PVMHOST = 1, PVMARCH = 2, PVMDEBUG = 4, PVMTRACE = 8)

! message encodings for pvmfinitsend and pvmfmkbuf
      INTEGER PVMDATADEFAULT, PVMDATARAW, PVMDATAINPLACE
      INTEGER PVMDATATRACE
      PARAMETER (PVMDATADEFAULT = 0, PVMDATARAW = 1)
      PARAMETER (PVMDATAINPLACE = 2, PVMDATATRACE = 4)
      INTEGER PVMDEFAULT, PVMRAW, PVMINPLACE
      PARAMETER (PVMDEFAULT = 0, PVMRAW = 1, PVMINPLACE = 2)

! events for pvmfnotify
      INTEGER PVMTASKEXIT, PVMHOSTDELETE, PVMHOSTADD
      INTEGER PVMROUTEADD, PVMROUTEDELETE, PVMNOTIFYCANCEL
      PARAMETER (PVMTASKEXIT = 1, PVMHOSTDELETE = 2)
      PARAMETER (PVMHOSTADD = 3, PVMROUTEADD = 4)
      PARAMETER (PVMROUTEDELETE = 5, PVMNOTIFYCANCEL = 256)

! element types for pvmfpack, pvmfunpack, pvmfpsend, pvmfprecv,
! pvmfreduce, pvmfgather and pvmfscatter
      INTEGER STRING, BYTE1, INTEGER2, INTEGER4, INTEGER8
      INTEGER REAL4, COMPLEX8, REAL8, COMPLEX16
      PARAMETER (STRING = 0, BYTE1 = 1, INTEGER2 = 2)
      PARAMETER (INTEGER4 = 3, REAL4 = 4, COMPLEX8 = 5)
      PARAMETER (REAL8 = 6, COMPLEX16 = 7, INTEGER8 = 8)

! options for pvmfsetopt and pvmfgetopt
      INTEGER PVMROUTE, PVMDEBUGMASK, PVMAUTOERR
      INTEGER PVMOUTPUTTID, PVMOUTPUTCODE
      INTEGER PVMTRACETID, PVMTRACECODE, PVMTRACEBUFFER
      INTEGER PVMTRACEOPTIONS, PVMFRAGSIZE, PVMRESVTIDS
      INTEGER PVMSOUTPUTTID, PVMSOUTPUTCODE, PVMSTRACETID
      INTEGER PVMSTRACECODE, PVMSTRACEBUFFER, PVMSTRACEOPTIONS
      INTEGER PVMSHOWTIDS, PVMPOLLTYPE, PVMPOLLTIME
      INTEGER PVMOUTPUTCTX, PVMTRACECTX, PVMSOUTPUTCTX
      INTEGER PVMSTRACECTX, PVMNORESET
      PARAMETER (PVMROUTE = 1, PVMDEBUGMASK = 2, PVMAUTOERR = 3)
      PARAMETER (PVMOUTPUTTID = 4, PVMOUTPUTCODE = 5)
      PARAMETER (PVMTRACETID = 6, PVMTRACECODE = 7)
      PARAMETER (PVMTRACEBUFFER = 8, PVMTRACEOPTIONS = 9)
      PARAMETER (PVMFRAGSIZE = 10, PVMRESVTIDS = 11)
      PARAMETER (PVMSOUTPUTTID = 12, PVMSOUTPUTCODE = 13)
      PARAMETER (PVMSTRACETID = 14, PVMSTRACECODE = 15)
      PARAMETER (PVMSTRACEBUFFER = 16, PVMSTRACEOPTIONS = 17)
      PARAMETER (PVMSHOWTIDS = 18, PVMPOLLTYPE = 19)
      PARAMETER (PVMPOLLTIME = 20, PVMOUTPUTCTX = 21)
      PARAMETER (PVMTRACECTX = 22, PVMSOUTPUTCTX = 23)
      PARAMETER (PVMSTRACECTX = 24, PVMNORESET = 25)
! values of PVMROUTE
      INTEGER PVMDONTROUTE, PVMALLOWDIRECT, PVMROUTEDIRECT
      PARAMETER (PVMDONTROUTE = 1, PVMALLOWDIRECT = 2)
      PARAMETER (PVMROUTEDIRECT = 3)
! values of PVMTRACEOPTIONS
      INTEGER PVMTRACEFULL, PVMTRACETIME, PVMTRACECOUNT
      PARAMETER (PVMTRACEFULL = 1, PVMTRACETIME = 2)
      PARAMETER (PVMTRACECOUNT = 3)
! values of PVMPOLLTYPE
      INTEGER PVMPOLLCONSTANT, PVMPOLLSLEEP
      PARAMETER (PVMPOLLCONSTANT = 1, PVMPOLLSLEEP = 2)

! message mailbox flags (pvmfputinfo, pvmfrecvinfo, pvmfdelinfo)
      INTEGER PVMMBOXDEFAULT, PVMMBOXPERSISTENT
      INTEGER PVMMBOXMULTIINSTANCE, PVMMBOXOVERWRITABLE
      INTEGER PVMMBOXFIRSTAVAIL, PVMMBOXREADANDDELETE
      INTEGER PVMMBOXWAITFORINFO
      PARAMETER (PVMMBOXDEFAULT = 0, PVMMBOXPERSISTENT = 1)
      PARAMETER (PVMMBOXMULTIINSTANCE = 2, PVMMBOXOVERWRITABLE = 4)
      PARAMETER (PVMMBOXFIRSTAVAIL = 8, PVMMBOXREADANDDELETE = 16)
      PARAMETER (PVMMBOXWAITFORINFO = 32)

! status codes returned in 'info' (negative means failure)
      INTEGER PvmOk, PvmBadParam, PvmMismatch, PvmOverflow
      INTEGER PvmNoData, PvmNoHost, PvmNoFile, PvmDenied
      INTEGER PvmNoMem, PvmBadMsg, PvmSysErr, PvmNoBuf
      INTEGER PvmNoSuchBuf, PvmNullGroup, PvmDupGroup
      INTEGER PvmNoGroup, PvmNotInGroup, PvmNoInst
      INTEGER PvmHostFail, PvmNoParent, PvmNotImpl
      INTEGER PvmDSysErr, PvmBadVersion, PvmOutOfRes
      INTEGER PvmDupHost, PvmCantStart, PvmAlready
      INTEGER PvmNoTask, PvmNotFound, PvmExists
      INTEGER PvmHostrNMstr, PvmParentNotSet, PvmIPLoopback
      PARAMETER (PvmOk = 0, PvmBadParam = -2, PvmMismatch = -3)
      PARAMETER (PvmOverflow = -4, PvmNoData = -5, PvmNoHost = -6)
      PARAMETER (PvmNoFile = -7, PvmDenied = -8, PvmNoMem = -10)
      PARAMETER (PvmBadMsg = -12, PvmSysErr = -14, PvmNoBuf = -15)
      PARAMETER (PvmNoSuchBuf = -16, PvmNullGroup = -17)
      PARAMETER (PvmDupGroup = -18, PvmNoGroup = -19)
      PARAMETER (PvmNotInGroup = -20, PvmNoInst = -21)
      PARAMETER (PvmHostFail = -22, PvmNoParent = -23)
      PARAMETER (PvmNotImpl = -24, PvmDSysErr = -25)
      PARAMETER (PvmBadVersion = -26, PvmOutOfRes = -27)
      PARAMETER (PvmDupHost = -28, PvmCantStart = -29)
      PARAMETER (PvmAlready = -30, PvmNoTask = -31)
      PARAMETER (PvmNotFound = -32, PvmExists = -33)
      PARAMETER (PvmHostrNMstr = -34, PvmParentNotSet = -35)
      PARAMETER (PvmIPLoopback = -36)
! PVM 3.3 names. In Fortran PvmDupEntry has always been -33
! (PvmExists); the C header maps it to PvmDenied (-8) instead.
      INTEGER PvmNoEntry, PvmDupEntry
      PARAMETER (PvmNoEntry = -32, PvmDupEntry = -33)
