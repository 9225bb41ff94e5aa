! fhello: the Fortran round trip. Run without a parent it spawns a copy
! of itself; the copy packs INTEGER4, REAL8 and STRING data and sends
! them to its parent, which unpacks, checks and prints them. Fixed form,
! so that it also compiles against PVM 3.4's own fpvm3.h.
      program fhello
      implicit none
      include 'fpvm3.h'
      integer mytid, ptid, child, numt, bufid, info, i
      integer bytes, tag, src, ints(3)
      double precision dbls(2)
      character*18 text
      character*256 self
      logical good

      call pvmfmytid(mytid)
      call pvmfparent(ptid)
      if (ptid .gt. 0) then
!        The spawned copy: one message to the parent, then leave.
         ints(1) = 42
         ints(2) = -7
         ints(3) = 2147483647
         dbls(1) = 3.25d0
         dbls(2) = -1.5d-300
         call pvmfinitsend(PVMDEFAULT, bufid)
         call pvmfpack(INTEGER4, ints, 3, 1, info)
         call pvmfpack(REAL8, dbls, 2, 1, info)
         call pvmfpack(STRING, 'hello from fortran', 18, 1, info)
         call pvmfsend(ptid, 1, info)
         call pvmfexit(info)
         stop
      endif

      write (*, '(A,L1)') 'enrolled ', mytid .gt. 0
      write (*, '(A,I0)') 'parent ', ptid
      call get_command_argument(0, self)
      call pvmfspawn(self, PVMTASKDEFAULT, '*', 1, child, numt)
      write (*, '(A,I0)') 'spawned ', numt
      if (numt .ne. 1) then
         write (*, '(A,I0)') 'spawn error ', child
         call pvmfexit(info)
         stop 1
      endif
      call pvmfnotify(PVMTASKEXIT, 9, 1, child, info)
      write (*, '(A,I0)') 'notify ', info

      call pvmfrecv(child, 1, bufid)
      call pvmfbufinfo(bufid, bytes, tag, src, info)
      write (*, '(A,I0,A,L1,A,I0)') 'message tag ', tag,
     &    ' from child ', src .eq. child, ' info ', info
      write (*, '(A,I0)') 'message bytes ', bytes
      call pvmfunpack(INTEGER4, ints, 3, 1, info)
      write (*, '(A,3(1X,I0),A,I0)') 'INTEGER4', ints, ' info ', info
      call pvmfunpack(REAL8, dbls, 2, 1, info)
      write (*, '(A,2(1X,ES23.15E3),A,I0)') 'REAL8', dbls,
     &    ' info ', info
      text = '******************'
      call pvmfunpack(STRING, text, 18, 1, info)
      write (*, '(A,A,A,I0)') 'STRING [', text, '] info ', info
      call pvmfunpack(INTEGER4, i, 1, 1, info)
      write (*, '(A,I0)') 'past the end ', info

      good = ints(1) .eq. 42 .and. ints(2) .eq. -7
      good = good .and. ints(3) .eq. 2147483647
      good = good .and. dbls(1) .eq. 3.25d0
      good = good .and. dbls(2) .eq. -1.5d-300
      good = good .and. text .eq. 'hello from fortran'
      write (*, '(A,L1)') 'all values equal ', good

      call pvmfrecv(-1, 9, bufid)
      call pvmfunpack(INTEGER4, i, 1, 1, info)
      write (*, '(A,L1)') 'child exited ', i .eq. child
      call pvmfexit(info)
      write (*, '(A,I0)') 'exit ', info
      if (.not. good) stop 1
      end
