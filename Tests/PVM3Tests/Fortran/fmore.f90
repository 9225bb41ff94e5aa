! fmore: free-form source (fpvm3.h must work there too) exercising the
! rest of the Fortran interface on one task: every pvmfpack type through
! a message to itself, pvmfpsend/pvmfprecv, the cycling pvmfconfig and
! pvmftasks, options, buffers, contexts, timeouts and error codes.
program fmore
  implicit none
  include 'fpvm3.h'
  integer :: mytid, info, bufid, bufid2, old, n, i, tag, bytes, src
  integer :: nhost, narch, dtid, speed, ntask, tid, ptid, flag, ctx, ctx2
  integer :: ntids, sib, atid, atag, alen, code, secs, usecs, dsecs, dusecs
  integer*2 :: shorts(3)
  integer*8 :: longs(2)
  real :: reals(2)
  complex :: cplx
  double complex :: dcplx
  double precision :: dbls(3)
  character(len=4) :: bytes4
  character(len=64) :: hname, harch, aout

  call pvmfmytid(mytid)
  write (*, '(A,L1)') 'enrolled ', mytid > 0

  ! Every type, to ourselves.
  call pvmfinitsend(PVMDEFAULT, bufid)
  shorts = (/ int(-3, 2), int(0, 2), int(32767, 2) /)
  reals = (/ 1.5, -0.25 /)
  cplx = (2.0, -3.0)
  dcplx = (0.5d0, 1.0d100)
  longs = (/ 5_8, 123456789_8 /)
  bytes4 = 'PVM!'
  call pvmfpack(INTEGER2, shorts, 3, 1, info)
  call pvmfpack(REAL4, reals, 2, 1, info)
  call pvmfpack(COMPLEX8, cplx, 1, 1, info)
  call pvmfpack(COMPLEX16, dcplx, 1, 1, info)
  call pvmfpack(INTEGER8, longs, 2, 1, info)
  call pvmfpack(BYTE1, bytes4, 4, 1, info)
  write (*, '(A,I0)') 'pack info ', info
  call pvmfpack(99, shorts, 1, 1, info)
  write (*, '(A,I0)') 'pack bad type ', info
  call pvmfsend(mytid, 5, info)
  write (*, '(A,I0)') 'send to self ', info
  ! A message to oneself may go through the daemon: probe until it is
  ! there, waiting a millisecond (a timed receive of a tag nobody sends)
  ! between tries.
  do i = 1, 5000
     call pvmfprobe(-1, 5, bufid)
     if (bufid > 0) exit
     call pvmftrecv(-1, 999, 0, 1000, bufid2)
  end do
  write (*, '(A,L1)') 'probe finds it ', bufid > 0
  call pvmfnrecv(-1, 5, bufid)
  call pvmfbufinfo(bufid, bytes, tag, src, info)
  write (*, '(A,I0,A,L1)') 'nrecv tag ', tag, ' from self ', src == mytid
  write (*, '(A,I0)') 'nrecv bytes ', bytes
  shorts = 0
  reals = 0
  cplx = (0.0, 0.0)
  dcplx = (0.0d0, 0.0d0)
  longs = 0
  bytes4 = '....'
  call pvmfunpack(INTEGER2, shorts, 3, 1, info)
  write (*, '(A,3(1X,I0))') 'INTEGER2', shorts
  call pvmfunpack(REAL4, reals, 2, 1, info)
  write (*, '(A,2(1X,F6.2))') 'REAL4', reals
  call pvmfunpack(COMPLEX8, cplx, 1, 1, info)
  write (*, '(A,2(1X,F6.2))') 'COMPLEX8', cplx
  call pvmfunpack(COMPLEX16, dcplx, 1, 1, info)
  write (*, '(A,2(1X,ES10.2E3))') 'COMPLEX16', dcplx
  call pvmfunpack(INTEGER8, longs, 2, 1, info)
  write (*, '(A,2(1X,I0))') 'INTEGER8', longs
  call pvmfunpack(BYTE1, bytes4, 4, 1, info)
  write (*, '(A,A,A,I0)') 'BYTE1 [', bytes4, '] info ', info
  call pvmfunpack(99, shorts, 1, 1, info)
  write (*, '(A,I0)') 'unpack bad type ', info

  ! A negative INTEGER8 in the default (XDR) encoding travels as 4 bytes.
  call pvmfinitsend(PVMDEFAULT, bufid)
  longs(1) = -5
  call pvmfpack(INTEGER8, longs, 1, 1, info)
  call pvmfsend(mytid, 7, info)
  call pvmfrecv(mytid, 7, bufid)
  longs(1) = 0
  call pvmfunpack(INTEGER8, longs, 1, 1, info)
  write (*, '(A,I0)') 'INTEGER8 -5 unpacked as ', longs(1)

  ! pvmfpsend / pvmfprecv (alen is in bytes).
  dbls = (/ 1.0d0, 2.0d0, 4.0d0 /)
  call pvmfpsend(mytid, 6, dbls, 3, REAL8, info)
  write (*, '(A,I0)') 'psend ', info
  dbls = 0
  call pvmfprecv(mytid, 6, dbls, 3, REAL8, atid, atag, alen, info)
  write (*, '(A,3(1X,F4.1),A,I0,A,L1,A,I0)') 'precv', dbls, ' tag ', atag, &
       ' from self ', atid == mytid, ' info ', info
  write (*, '(A,I0)') 'precv alen ', alen

  ! A timed receive with nothing to receive.
  call pvmftrecv(-1, 77, 0, 100000, bufid)
  write (*, '(A,I0)') 'trecv timeout ', bufid

  ! Buffers.
  call pvmfmkbuf(PVMDEFAULT, bufid)
  call pvmfsetsbuf(bufid, old)
  call pvmfgetsbuf(bufid2)
  write (*, '(A,L1)') 'setsbuf/getsbuf ', bufid2 == bufid
  call pvmffreebuf(bufid, info)
  call pvmfgetsbuf(bufid2)
  write (*, '(A,I0,A,I0)') 'freebuf ', info, ' send buffer now ', bufid2
  call pvmffreebuf(12345, info)
  write (*, '(A,I0)') 'freebuf unknown ', info

  ! The virtual machine, one host per call; nhost = -1 starts over.
  nhost = -1
  do i = 1, 2
     call pvmfconfig(nhost, narch, dtid, hname, harch, speed, info)
     write (*, '(A,I0,A,I0,A,I0,A,I0,A,I0,A,L1)') 'config nhost ', nhost, ' narch ', narch, &
          ' dtid ', dtid, ' speed ', speed, ' info ', info, ' named ', len_trim(hname) > 0
  end do
  call pvmfmstat(hname, code)
  write (*, '(A,I0)') 'mstat own host ', code
  call pvmfmstat('no-such-host', code)
  write (*, '(A,I0)') 'mstat unknown host ', code
  call pvmfhostsync(dtid, secs, usecs, dsecs, dusecs, info)
  write (*, '(A,I0,A,L1)') 'hostsync ', info, ' clock set ', secs > 0

  ! The tasks, one per call.
  ntask = -1
  do i = 1, 2
     call pvmftasks(0, ntask, tid, ptid, dtid, flag, aout, info)
     write (*, '(A,I0,A,L1,A,I0,A,I0,A,A,A)') 'tasks ntask ', ntask, ' self ', tid == mytid, &
          ' parent ', ptid, ' info ', info, ' aout [', trim(aout), ']'
  end do
  call pvmftasks(mytid, ntask, tid, ptid, dtid, flag, aout, info)
  write (*, '(A,I0,A,L1,A,I0)') 'tasks of self ', ntask, ' self ', tid == mytid, ' info ', info

  ! Siblings: just this task; any index out of range gives PvmNoTask.
  call pvmfsiblings(ntids, 0, sib)
  write (*, '(A,I0,A,L1)') 'siblings ', ntids, ' first is self ', sib == mytid
  call pvmfsiblings(ntids, -1, sib)
  write (*, '(A,I0)') 'sibling -1 ', sib
  call pvmfsiblings(ntids, 1, sib)
  write (*, '(A,I0)') 'sibling 1 ', sib

  ! Options.
  call pvmfgetopt(PVMROUTE, n)
  write (*, '(A,I0)') 'getopt PVMROUTE ', n
  call pvmfsetopt(PVMAUTOERR, 0, old)
  write (*, '(A,I0)') 'setopt PVMAUTOERR, old ', old
  call pvmfgetopt(PVMAUTOERR, n)
  write (*, '(A,I0)') 'getopt PVMAUTOERR ', n
  call pvmfsetopt(PVMAUTOERR, old, n)

  ! Tasks and hosts by tid.
  call pvmfpstat(mytid, code)
  write (*, '(A,I0)') 'pstat self ', code
  call pvmftidtohost(mytid, dtid)
  write (*, '(A,I0)') 'tidtohost ', dtid
  call pvmfkill(0, info)
  write (*, '(A,I0)') 'kill 0 ', info
  call pvmfsendsig(mytid, 0, info)
  write (*, '(A,I0)') 'sendsig self 0 ', info

  ! Contexts.
  call pvmfgetcontext(ctx)
  call pvmfnewcontext(ctx2)
  call pvmfsetcontext(ctx2, old)
  write (*, '(A,I0,A,L1,A,I0)') 'context ', ctx, ' new differs ', ctx2 /= ctx, ' old ', old
  call pvmfsetcontext(ctx, old)
  call pvmfgetcontext(n)
  write (*, '(A,L1)') 'context restored ', n == ctx
  call pvmffreecontext(ctx2, info)
  write (*, '(A,I0)') 'freecontext ', info

  call pvmfperror('fmore', info)
  write (*, '(A,I0)') 'perror ', info
  call pvmfexit(info)
  write (*, '(A,I0)') 'exit ', info
end program fmore
