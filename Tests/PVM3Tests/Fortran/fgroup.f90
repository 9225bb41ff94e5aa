! fgroup: the group routines from Fortran, in a group of one: join,
! size, instance and tid lookups, the predefined reduction operators
! passed as EXTERNAL routines, a user-written reduction routine, gather,
! scatter, barrier, leave.
program fgroup
  implicit none
  include 'fpvm3.h'
  external PvmSum, PvmMax, PvmMin, PvmProduct, twice
  integer :: mytid, inum, info, n, tid, vals(3), got(3)
  double precision :: dvals(2)

  call pvmfmytid(mytid)
  call pvmfjoingroup('fortran group', inum)
  write (*, '(A,I0)') 'join ', inum
  if (inum < 0) then
     call pvmfexit(info)
     stop
  end if
  call pvmfgsize('fortran group', n)
  write (*, '(A,I0)') 'gsize ', n
  call pvmfgettid('fortran group', 0, tid)
  write (*, '(A,L1)') 'gettid 0 is self ', tid == mytid
  call pvmfgetinst('fortran group', mytid, inum)
  write (*, '(A,I0)') 'getinst self ', inum
  call pvmfgettid('fortran group', 5, tid)
  write (*, '(A,I0)') 'gettid 5 ', tid

  vals = (/ 1, 5, 3 /)
  call pvmfreduce(PvmSum, vals, 3, INTEGER4, 11, 'fortran group', 0, info)
  write (*, '(A,3(1X,I0),A,I0)') 'reduce PvmSum', vals, ' info ', info
  call pvmfreduce(PvmMax, vals, 3, INTEGER4, 12, 'fortran group', 0, info)
  write (*, '(A,3(1X,I0),A,I0)') 'reduce PvmMax', vals, ' info ', info
  call pvmfreduce(PvmMin, vals, 3, INTEGER4, 13, 'fortran group', 0, info)
  write (*, '(A,3(1X,I0),A,I0)') 'reduce PvmMin', vals, ' info ', info
  dvals = (/ 1.5d0, -2.0d0 /)
  call pvmfreduce(PvmProduct, dvals, 2, REAL8, 14, 'fortran group', 0, info)
  write (*, '(A,2(1X,F5.2),A,I0)') 'reduce PvmProduct', dvals, ' info ', info
  call pvmfreduce(twice, vals, 3, INTEGER4, 15, 'fortran group', 0, info)
  write (*, '(A,3(1X,I0),A,I0)') 'reduce user routine', vals, ' info ', info

  got = 0
  call pvmfgather(got, vals, 3, INTEGER4, 16, 'fortran group', 0, info)
  write (*, '(A,3(1X,I0),A,I0)') 'gather', got, ' info ', info
  got = 0
  call pvmfscatter(got, vals, 3, INTEGER4, 17, 'fortran group', 0, info)
  write (*, '(A,3(1X,I0),A,I0)') 'scatter', got, ' info ', info
  call pvmfbarrier('fortran group', 1, info)
  write (*, '(A,I0)') 'barrier ', info

  call pvmflvgroup('fortran group', info)
  write (*, '(A,I0)') 'leave ', info
  call pvmfgsize('no such group', n)
  write (*, '(A,I0)') 'gsize of unknown group ', n
  call pvmfexit(info)
  write (*, '(A,I0)') 'exit ', info
end program fgroup

! A reduction routine of the program's own, called by pvm_reduce with
! every argument by address. In a group of one there is nothing to
! combine; it is called only when another member's data arrives.
subroutine twice(datatype, x, y, num, info)
  implicit none
  integer :: datatype, num, info, i
  integer :: x(num), y(num)
  do i = 1, num
     x(i) = x(i) + 2 * y(i)
  end do
  info = 0 * datatype
end subroutine twice
