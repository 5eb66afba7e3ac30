/* loopback-forward LISTEN_PORT TARGET_PORT: accepts TCP on 0.0.0.0:LISTEN_PORT and copies each connection to
 * 127.0.0.1:TARGET_PORT. A sidecar for the smoke test of scripts/k8s-cluster-check.sh only: demo-app listens on
 * 127.0.0.1, which kubelet probes and the Service cannot reach inside a pod (see docs/kubernetes.md).
 * Built with `gcc -static`, it runs in an image with nothing else in it. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static void on_term(int sig) { (void)sig; _exit(0); } /* PID 1 in its container ignores an unhandled SIGTERM */

/* Copies both ways until both sides have closed; a half-close is passed on. */
static void relay(int a, int b) {
    char buf[16384];
    int open_a = 1, open_b = 1;
    while (open_a || open_b) {
        struct pollfd fds[2] = {{a, open_a ? POLLIN : 0, 0}, {b, open_b ? POLLIN : 0, 0}};
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        for (int i = 0; i < 2; i++) {
            int from = i ? b : a, to = i ? a : b;
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t n = read(from, buf, sizeof buf);
            if (n <= 0) {
                shutdown(to, SHUT_WR);
                if (i) open_b = 0; else open_a = 0;
                continue;
            }
            for (ssize_t off = 0; off < n;) {
                ssize_t w = write(to, buf + off, (size_t)(n - off));
                if (w <= 0) return;
                off += w;
            }
        }
    }
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: loopback-forward LISTEN_PORT TARGET_PORT\n");
        return 2;
    }
    int listen_port = atoi(argv[1]), target_port = atoi(argv[2]);
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    signal(SIGCHLD, SIG_IGN); /* children are reaped by the kernel */
    signal(SIGPIPE, SIG_IGN);
    int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in any = {.sin_family = AF_INET, .sin_port = htons((unsigned short)listen_port)};
    any.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(l, (struct sockaddr *)&any, sizeof any) < 0 || listen(l, 128) < 0) {
        perror("loopback-forward: listen");
        return 1;
    }
    fprintf(stderr, "loopback-forward: 0.0.0.0:%d -> 127.0.0.1:%d\n", listen_port, target_port);
    for (;;) {
        int c = accept(l, NULL, NULL);
        if (c < 0) continue;
        if (fork() == 0) {
            close(l);
            int t = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in lo = {.sin_family = AF_INET, .sin_port = htons((unsigned short)target_port)};
            lo.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            if (connect(t, (struct sockaddr *)&lo, sizeof lo) == 0) relay(c, t);
            _exit(0);
        }
        close(c);
    }
}
