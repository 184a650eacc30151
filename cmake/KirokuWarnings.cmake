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
