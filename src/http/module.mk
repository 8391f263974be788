# http: the service's HTTP server links libmicrohttpd.
APP_LDLIBS += -lmicrohttpd
