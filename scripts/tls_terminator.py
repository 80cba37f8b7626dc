#!/usr/bin/env python3
"""A local TLS terminator for the Lambda-like bench bed (`scripts/bench.py --parts lambda`).

On AWS every endpoint a function calls is HTTPS on a host of its own (ssm., dynamodb., sqs. and
s3.<region>.amazonaws.com), so a cold start pays one TLS handshake per service. moto and the
in-memory AWS (`fake_aws`) speak plain HTTP on one port. This process stands in front of one of
them with one TLS listener per service (so no connection is shared across services, as on AWS),
and relays the decrypted bytes to it.

    tls_terminator.py --upstream 127.0.0.1:4566 --cert server.pem --key server.key ssm dynamodb sqs s3

prints `listening SERVICE https://127.0.0.1:PORT` per service, then serves until killed. The
functions trust the bench's own certificate authority the way a user adds one: `SSL_CERT_FILE`
names a PEM bundle (the system's roots plus the bench CA), which the SDK's rustls client reads
through `rustls-native-certs`.
"""
import argparse
import asyncio
import ssl
import sys


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
        pass
    finally:
        try:
            writer.close()
        except (ConnectionError, ssl.SSLError):
            pass


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="HOST:PORT of the plain-HTTP emulator")
    parser.add_argument("--cert", required=True, help="server certificate chain (PEM)")
    parser.add_argument("--key", required=True, help="server private key (PEM)")
    parser.add_argument("services", nargs="+", help="one TLS listener per name")
    args = parser.parse_args()
    host, port = args.upstream.rsplit(":", 1)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)

    async def relay(client_reader, client_writer):
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer))

    servers = []
    for service in args.services:
        server = await asyncio.start_server(relay, "127.0.0.1", 0, ssl=context)
        servers.append(server)
        print(f"listening {service} https://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    await asyncio.gather(*(server.serve_forever() for server in servers))


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
