//! The cold-start reference: a hello-world `lambda_http` function, built with the same profile as
//! the ingress. `scripts/bench.py` times both from exec to their first answer under a Lambda
//! Runtime API emulator.

use lambda_http::{run, service_fn, Body, Error, Request, Response};

async fn hello(_request: Request) -> Result<Response<Body>, Error> {
    Ok(Response::new(Body::from("hello")))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(hello)).await
}
