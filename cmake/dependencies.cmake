# Third-party libraries, all from Debian 12 packages (scripts/setup installs them).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(fmt 9 REQUIRED)
pkg_check_modules(TOMLPLUSPLUS REQUIRED IMPORTED_TARGET tomlplusplus)
if(UTT_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
# The data stage: JSON, compressed text and Parquet codecs.
find_package(simdjson REQUIRED)
find_package(yaml-cpp REQUIRED)  # dataset cards (README.md front matter)
find_package(ZLIB REQUIRED)
find_package(Snappy REQUIRED)
pkg_check_modules(ZSTD REQUIRED IMPORTED_TARGET libzstd)
# Hugging Face Hub downloads, and sha256 checks of what they bring.
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
