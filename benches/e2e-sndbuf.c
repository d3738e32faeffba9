// LD_PRELOAD shim for trafgen (benches/e2e.sh): gives its AF_PACKET sockets a 64 MiB send buffer.
// trafgen 0.6.8 dies on EAGAIN from its TX_RING flush, which a send buffer of net.core.wmem_default
// (212992 B, about 270 small frames in flight) returns as soon as the receiver runs on another CPU.
// trafgen raises wmem_default itself unless --no-sock-mem, but that sysctl is the host's (it cannot be set
// in a child namespace on this kernel); SO_SNDBUFFORCE (CAP_NET_ADMIN) changes only this socket.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sys/socket.h>

int socket(int domain, int type, int protocol)
{
	static int (*real_socket)(int, int, int);
	if (!real_socket)
		real_socket = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
	int fd = real_socket(domain, type, protocol);
	if (fd >= 0 && domain == AF_PACKET) {
		int size = 64 << 20;
		setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
	}
	return fd;
}
