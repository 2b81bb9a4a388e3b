# One place for compiler flags every target of ours gets.
add_library(meshrun_flags INTERFACE)
target_compile_options(meshrun_flags INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Wunused -Woverloaded-virtual -Wimplicit-fallthrough
  # GCC 12 misreads asio's coroutine frame allocator as a new/delete mismatch,
  # and std::string copies as overlapping memcpy (GCC bug 105329).
  $<$<CXX_COMPILER_ID:GNU>:-Wno-mismatched-new-delete -Wno-restrict>
  $<$<BOOL:${MESHRUN_WERROR}>:-Werror>)
if(MESHRUN_SANITIZE)
  target_compile_options(meshrun_flags INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer
                                                 -fno-sanitize-recover=undefined)
  target_link_options(meshrun_flags INTERFACE -fsanitize=address,undefined)
endif()
if(MESHRUN_SANITIZE_THREAD)
  if(MESHRUN_SANITIZE OR MESHRUN_FUZZ)
    message(FATAL_ERROR "MESHRUN_SANITIZE_THREAD cannot be combined with MESHRUN_SANITIZE or "
                        "MESHRUN_FUZZ: ThreadSanitizer and AddressSanitizer exclude each other")
  endif()
  # GCC warns that TSan ignores std::atomic_thread_fence, which asio's
  # handler completion uses; the hand-offs it fences already go through the
  # scheduler's mutex, which TSan does see.
  target_compile_options(meshrun_flags INTERFACE -fsanitize=thread -fno-omit-frame-pointer
                                                 $<$<CXX_COMPILER_ID:GNU>:-Wno-tsan>)
  target_link_options(meshrun_flags INTERFACE -fsanitize=thread)
endif()
