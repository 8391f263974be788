# src/onnx: `abyss model export DIR --onnx OUT.onnx`. The ONNX protobuf
# code is generated at build time by protoc-c from the onnx.proto that
# Debian's libonnx-dev ships (nothing vendored, nothing generated is
# committed); it goes into the abyss binary, not into libabyss.
#
# When protoc-c or onnx.proto is missing (make deps installs them:
# protobuf-c-compiler libprotobuf-c-dev libonnx-dev), the module is left
# out with a warning and `abyss model export` says it was built without
# ONNX support.
ONNX_PROTO ?= $(firstword $(wildcard /usr/include/onnx/onnx.proto))
PROTOC_C ?= $(shell command -v protoc-c 2>/dev/null)
PROTOBUF_C_H := $(wildcard /usr/include/protobuf-c/protobuf-c.h)

ifneq ($(and $(ONNX_PROTO),$(PROTOC_C),$(PROTOBUF_C_H)),)
ONNX_GEN := $(BUILD)/gen
ONNX_PB_C := $(ONNX_GEN)/onnx/onnx.pb-c.c
ONNX_PB_H := $(ONNX_GEN)/onnx/onnx.pb-c.h

APP_SRCS += $(wildcard src/onnx/*.c) $(ONNX_PB_C)
APP_LDLIBS += -lprotobuf-c
# The generated header is found as "onnx/onnx.pb-c.h" (sources, tests).
CPPFLAGS += -I$(ONNX_GEN) -DABYSS_WITH_ONNX
# Generated code is not ours to warn about (-Wpedantic, prototypes).
CFLAGS_$(subst /,_,$(ONNX_GEN)/onnx/) += -w

# One protoc-c run makes both files (the header is a by-product).
$(ONNX_PB_H): $(ONNX_PB_C)
$(ONNX_PB_C): $(ONNX_PROTO) src/onnx/module.mk
	@mkdir -p $(ONNX_GEN)
	@$(if $(Q),echo "  PROTOC  $(ONNX_PROTO)")
	$(Q)$(PROTOC_C) --proto_path=$(dir $(ONNX_PROTO)).. \
		--c_out=$(ONNX_GEN) onnx/onnx.proto
	$(Q)touch $(ONNX_PB_C) $(ONNX_PB_H)

# Everything that includes the generated header waits for it (the .d files
# only know about it after a first build).
$(BUILD)/obj/src/onnx/onnx_export.o $(BUILD)/obj/src/cli/cmd_model.o \
	$(BUILD)/tests/test_onnx: $(ONNX_PB_H)
# clang-tidy (tests/lint.sh) needs the generated header too.
lint: $(ONNX_PB_H)
else
$(warning src/onnx: protoc-c or /usr/include/onnx/onnx.proto missing; building without ONNX export (make deps installs protobuf-c-compiler libprotobuf-c-dev libonnx-dev))
endif
