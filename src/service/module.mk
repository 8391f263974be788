APP_LDLIBS += -lmosquitto
