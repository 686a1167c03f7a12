# Compiler flags shared by every target we write (not by generated code).
add_library(mf_flags INTERFACE)
target_compile_options(mf_flags INTERFACE
  -Wall -Wextra -Wformat=2 -Wshadow -Wvla -Wstrict-prototypes
  -Wmissing-prototypes -Wimplicit-fallthrough)
if(MF_WERROR)
  target_compile_options(mf_flags INTERFACE -Werror)
endif()
# _GNU_SOURCE: POSIX and the few GNU calls we use (memmem, pipe2, accept4).
add_compile_definitions(_GNU_SOURCE)

if(MF_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

if(MF_FUZZ)
  # Coverage instrumentation for everything; fuzz targets add -fsanitize=fuzzer.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
