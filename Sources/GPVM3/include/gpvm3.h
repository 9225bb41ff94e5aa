/* libgpvm3.so.3 has no interface of its own: its entry points are PVM's
   group calls, declared in pvm3.h. (SwiftPM wants a header folder.) */
