# Warnings and sanitizers in one place; every kiroku target links kiroku_build_flags.
add_library(kiroku_build_flags INTERFACE)
target_compile_options(kiroku_build_flags INTERFACE
  -Wall -Wextra
  -Wshadow               # a local hiding another name has hidden real bugs
  -Wstrict-prototypes    # f() in C means "any arguments"
  -Wmissing-prototypes   # a non-static function without a header declaration is usually a mistake
  -Wformat=2             # format strings that are not literals
  -Wvla                  # stack size must not depend on input
  -Wno-unused-parameter  # callbacks of libcurl, inih and http-parser carry parameters we ignore
  -Wno-format-truncation # messages are cut on purpose at their buffer size; truncation is handled, not a bug
)
target_compile_definitions(kiroku_build_flags INTERFACE _POSIX_C_SOURCE=200809L _DEFAULT_SOURCE)
if(KIROKU_WERROR)
  target_compile_options(kiroku_build_flags INTERFACE -Werror)
endif()
if(KIROKU_SANITIZE)
  target_compile_options(kiroku_build_flags INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(kiroku_build_flags INTERFACE -fsanitize=address,undefined)
endif()
# The libFuzzer build (tests/fuzz, scripts/ci-fuzz.sh): everything gets libFuzzer's coverage instrumentation
# without its main() (fuzzer-no-link), ASan and UBSan; the fuzz programs add -fsanitize=fuzzer when linked.
if(KIROKU_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "KIROKU_FUZZ needs clang (libFuzzer): configure with CC=clang")
  endif()
  target_compile_options(kiroku_build_flags INTERFACE
    -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
    -Wno-unknown-warning-option # clang lacks some of GCC's -Wno-* above
  )
  target_link_options(kiroku_build_flags INTERFACE -fsanitize=address,undefined)
endif()
