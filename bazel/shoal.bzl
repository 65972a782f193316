"""One macro for the layout every top-level source directory follows (as the Makefile does).

shoal_package(name, deps, binary, main) declares, from globs, so that files added later are
picked up without editing BUILD files:
  - cc_library `name`: every .cc/.h below the directory except *_test.cc, *_fuzz.cc, main.cc;
  - cc_binary `binary` from `main`, only once that file exists;
  - one cc_test per *_test.cc (named after the file), linked statically with the library,
    gtest_main and gmock, as the Makefile links its archives.
*_fuzz.cc files are libFuzzer targets built by `make fuzz`, not by Bazel. Do not add BUILD files
in subdirectories: that would cut them out of these globs.
"""

load("//bazel:copts.bzl", "SHOAL_COPTS")

def shoal_package(name, deps, binary = None, main = "main.cc"):
    native.cc_library(
        name = name,
        srcs = native.glob(
            ["**/*.cc"],
            allow_empty = True,
            exclude = ["**/*_test.cc", "**/*_fuzz.cc", "**/main.cc"],
        ),
        hdrs = native.glob(["**/*.h"], allow_empty = True),
        copts = SHOAL_COPTS,
        deps = deps,
        visibility = ["//visibility:public"],
    )
    if binary:
        for src in native.glob([main], allow_empty = True):
            native.cc_binary(
                name = binary,
                srcs = [src],
                copts = SHOAL_COPTS,
                deps = [":" + name],
                visibility = ["//visibility:public"],
            )
    for src in native.glob(["**/*_test.cc"], allow_empty = True):
        native.cc_test(
            name = src.split("/")[-1][:-len(".cc")],
            srcs = [src],
            copts = SHOAL_COPTS,
            linkstatic = True,
            deps = [":" + name, "@gtest//:gmock", "@gtest//:gtest_main"],
        )
