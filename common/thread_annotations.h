// Macros over clang's thread-safety attributes, so that -Wthread-safety checks which mutex guards
// which member at compile time. They expand to nothing on compilers without the attributes (gcc).
#pragma once

#if defined(__clang__)
#define HASHMESH_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define HASHMESH_THREAD_ANNOTATION(x)
#endif

// On a class: it is a lockable capability ("mutex").
#define CAPABILITY(name) HASHMESH_THREAD_ANNOTATION(capability(name))
// On a class: an RAII object that holds a capability for its lifetime.
#define SCOPED_CAPABILITY HASHMESH_THREAD_ANNOTATION(scoped_lockable)

// On a data member: reads and writes need the given mutex held.
#define GUARDED_BY(mu) HASHMESH_THREAD_ANNOTATION(guarded_by(mu))
// On a pointer member: the pointee needs the given mutex held (the pointer itself does not).
#define PT_GUARDED_BY(mu) HASHMESH_THREAD_ANNOTATION(pt_guarded_by(mu))

// On a mutex member: the lock order between mutexes.
#define ACQUIRED_BEFORE(...) HASHMESH_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) HASHMESH_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))

// On a function: the caller must hold the mutex (exclusively, or at least shared).
#define REQUIRES(...) HASHMESH_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) HASHMESH_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
// On a function: the caller must not hold the mutex (the function takes it).
#define EXCLUDES(...) HASHMESH_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))

// On a function: it takes or releases the mutex (no argument: `this`).
#define ACQUIRE(...) HASHMESH_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) HASHMESH_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) HASHMESH_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) HASHMESH_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
// On a function returning bool: it took the mutex when it returns the given value.
#define TRY_ACQUIRE(...) HASHMESH_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
// On a function: after it returns, the analysis takes the mutex as held.
#define ASSERT_CAPABILITY(x) HASHMESH_THREAD_ANNOTATION(assert_capability(x))
#define ASSERT_SHARED_CAPABILITY(x) HASHMESH_THREAD_ANNOTATION(assert_shared_capability(x))
// On a function: returns a reference to the given mutex (for accessors).
#define RETURN_CAPABILITY(x) HASHMESH_THREAD_ANNOTATION(lock_returned(x))

// On a function: do not check it. Say why beside each use.
#define NO_THREAD_SAFETY_ANALYSIS HASHMESH_THREAD_ANNOTATION(no_thread_safety_analysis)
