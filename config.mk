# config.mk - build knobs, included by the Makefile (mosquitto style).
# Override on the command line: make WERROR=1, make SANITIZE=address,undefined

CC       ?= gcc
PREFIX   ?= /usr/local
DESTDIR  ?=
BUILD    ?= build
OPT      ?= -O2
WERROR   ?= 0
SANITIZE ?=
WITH_OPENMP ?= 1
V        ?= 0

# Where the real Setitec files and MQTT messages are (tests skip what is absent).
ABYSS_DATA    ?= $(abspath ../shared/data)
ABYSS_VECTORS ?= $(abspath ../shared/vectors)

# Debian 12 packages the build and the tests need (make deps installs them).
DEB_PACKAGES := build-essential pkg-config libjansson-dev libcmocka-dev \
	libcyaml-dev libyaml-dev libsqlite3-dev libmosquitto-dev mosquitto \
	mosquitto-clients libmicrohttpd-dev clang clang-format clang-tidy \
	cppcheck valgrind libclang-rt-14-dev openssl curl man-db procps
# ONNX export (src/onnx: protoc-c over libonnx-dev's onnx.proto) and its test
# (tests/integration/30-onnx.sh: python3-onnx checker, onnxruntime-node).
# Debian's npm conflicts with a nodejs that bundles its own npm (NodeSource):
# it is only asked for when no npm is on the PATH.
DEB_PACKAGES += protobuf-c-compiler libprotobuf-c-dev libonnx-dev \
	python3-onnx nodejs $(if $(shell command -v npm 2>/dev/null),,npm)
