# One place for compiler flags every target of ours gets.
add_library(meshrun_flags INTERFACE)
target_compile_options(meshrun_flags INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Wunused -Woverloaded-virtual -Wimplicit-fallthrough
  $<$<BOOL:${MESHRUN_WERROR}>:-Werror>)
if(MESHRUN_SANITIZE)
  target_compile_options(meshrun_flags INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer
                                                 -fno-sanitize-recover=undefined)
  target_link_options(meshrun_flags INTERFACE -fsanitize=address,undefined)
endif()
