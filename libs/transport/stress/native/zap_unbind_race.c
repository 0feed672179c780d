/*
 * The steps of the pipe.cpp:355 abort without Node, to try a libzmq build directly: what
 * zeromq.js's asynchronous unbind does to a ZAP handler that has a receive pending. One thread
 * unbinds the handler's ROUTER (as the binding's libuv thread-pool work does) while another asks the
 * same socket for ZMQ_EVENTS and reads it (as the binding's poller does for the pending receive).
 * libzmq sockets are not thread-safe, so `concurrent` is a misuse and `serial` the correct use.
 *
 *   cc -O1 -o /tmp/zap_unbind_race libs/transport/stress/native/zap_unbind_race.c -lzmq -lpthread
 *   /tmp/zap_unbind_race concurrent 3000
 *   /tmp/zap_unbind_race serial 3000
 *
 * Measured on 2 loaded cores (docs/architecture.md, "Native aborts"): neither Debian's libzmq 4.3.4
 * nor the 4.3.5 bundled in zeromq.js's addon aborted here in 4 minutes of `concurrent` each; the
 * window is narrower without Node's event loop, and the abort was caught under Node
 * (npm run stress:lifecycle, --gdb).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define ZAP "inproc://zeromq.zap.01"
#define CLIENTS 8

static atomic_int unbound;

static void *unbind_zap(void *zap) {
    zmq_unbind(zap, ZAP);
    atomic_store(&unbound, 1);
    return NULL;
}

/* Answers every complete ZAP request waiting on the handler with 200 OK; returns how many. */
static int answer_zap(void *zap) {
    char frames[16][256];
    size_t sizes[16];
    for (int answered = 0;; answered++) {
        int count = 0;
        int more = 1;
        while (more && count < 16) {
            int size = zmq_recv(zap, frames[count], sizeof frames[count], ZMQ_DONTWAIT);
            if (size < 0) return answered;
            sizes[count++] = (size_t)size;
            size_t length = sizeof more;
            zmq_getsockopt(zap, ZMQ_RCVMORE, &more, &length);
        }
        /* [routing id, "", version, request id, domain, address, identity, mechanism, key] */
        zmq_send(zap, frames[0], sizes[0], ZMQ_SNDMORE);
        zmq_send(zap, "", 0, ZMQ_SNDMORE);
        zmq_send(zap, "1.0", 3, ZMQ_SNDMORE);
        zmq_send(zap, frames[3], sizes[3], ZMQ_SNDMORE);
        zmq_send(zap, "200", 3, ZMQ_SNDMORE);
        zmq_send(zap, "OK", 2, ZMQ_SNDMORE);
        zmq_send(zap, "", 0, ZMQ_SNDMORE);
        zmq_send(zap, "", 0, 0);
    }
}

static char server_public[41], server_secret[41], client_public[41], client_secret[41];

/* A CURVE DEALER that connects to the server and queues one message (its handshake asks ZAP). */
static void *curve_client(void *context, const char *endpoint) {
    int zero = 0;
    void *client = zmq_socket(context, ZMQ_DEALER);
    zmq_setsockopt(client, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(client, ZMQ_CURVE_SERVERKEY, server_public, 40);
    zmq_setsockopt(client, ZMQ_CURVE_PUBLICKEY, client_public, 40);
    zmq_setsockopt(client, ZMQ_CURVE_SECRETKEY, client_secret, 40);
    zmq_connect(client, endpoint);
    zmq_send(client, "hello", 5, ZMQ_DONTWAIT);
    return client;
}

int main(int argc, char **argv) {
    int concurrent = argc > 1 && strcmp(argv[1], "concurrent") == 0;
    int rounds = argc > 2 ? atoi(argv[2]) : 1000;
    int major, minor, patch;
    zmq_version(&major, &minor, &patch);
    printf("libzmq %d.%d.%d, %s unbind, %d rounds\n", major, minor, patch, concurrent ? "concurrent" : "serial", rounds);
    fflush(stdout);

    zmq_curve_keypair(server_public, server_secret);
    zmq_curve_keypair(client_public, client_secret);
    int zero = 0, one = 1;
    void *context = zmq_ctx_new();

    long total = 0;
    for (int round = 0; round < rounds; round++) {
        void *zap = zmq_socket(context, ZMQ_ROUTER);
        zmq_setsockopt(zap, ZMQ_LINGER, &zero, sizeof zero);
        zmq_bind(zap, ZAP);
        void *server = zmq_socket(context, ZMQ_ROUTER);
        zmq_setsockopt(server, ZMQ_LINGER, &zero, sizeof zero);
        zmq_setsockopt(server, ZMQ_CURVE_SERVER, &one, sizeof one);
        zmq_setsockopt(server, ZMQ_CURVE_SECRETKEY, server_secret, 40);
        zmq_bind(server, "tcp://127.0.0.1:*");
        char endpoint[256];
        size_t length = sizeof endpoint;
        zmq_getsockopt(server, ZMQ_LAST_ENDPOINT, endpoint, &length);

        void *clients[CLIENTS];
        for (int i = 0; i < CLIENTS / 2; i++) clients[i] = curve_client(context, endpoint);
        /* Let the handshakes reach the handler, so sessions hold pipes to it. */
        int answered = 0;
        for (int wait = 0; answered < CLIENTS / 2 && wait < 100; wait++) {
            zmq_pollitem_t item = {zap, 0, ZMQ_POLLIN, 0};
            zmq_poll(&item, 1, 10);
            answered += answer_zap(zap);
        }
        total += answered;
        /* More handshakes while the handler is unbound: their ZAP requests are in flight. */
        for (int i = CLIENTS / 2; i < CLIENTS; i++) clients[i] = curve_client(context, endpoint);

        if (concurrent) {
            atomic_store(&unbound, 0);
            pthread_t thread;
            pthread_create(&thread, NULL, unbind_zap, zap);
            while (!atomic_load(&unbound)) {
                /* The binding's poller: is the pending receive ready? If so, take the message. */
                int events = 0;
                size_t size = sizeof events;
                zmq_getsockopt(zap, ZMQ_EVENTS, &events, &size);
                if (events & ZMQ_POLLIN) answer_zap(zap);
            }
            pthread_join(thread, NULL);
        } else {
            zmq_unbind(zap, ZAP);
        }

        zmq_close(zap);
        zmq_close(server);
        for (int i = 0; i < CLIENTS; i++) zmq_close(clients[i]);
    }
    zmq_ctx_term(context);
    printf("completed %d rounds, %ld ZAP requests answered\n", rounds, total);
    return 0;
}
