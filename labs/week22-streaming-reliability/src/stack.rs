//! The pieces started on loopback, as the lab and its checks assemble them: the model server
//! (wb-llm's OpenAI-compatible one) and a gateway in front of a base URL. Each runs on the
//! calling tokio runtime until that runtime ends.

use crate::gateway::{self, Gateway};
use crate::idempotency::Keys;
use crate::upstream::{Resilience, Upstream};
use crate::wb_llm::ChatModel;
use crate::wb_llm::server::{self, Stats};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Starts the model server for `model` on a free loopback port (a queue of 64 requests).
pub async fn start_model_server(
    model: Box<dyn ChatModel + Send>,
) -> crate::Result<(SocketAddr, Arc<Stats>)> {
    let config = server::Config {
        queue: 64,
        ..server::Config::default()
    };
    let (app, stats, _worker) = server::router(model, None, &config);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((addr, stats))
}

/// Starts a gateway whose upstream is the model server at `upstream` (a base URL) serving
/// `model`; returns the gateway's base URL and its state (keys kept 10 minutes).
pub async fn start_gateway(
    upstream: &str,
    model: &str,
    resilience: Resilience,
) -> crate::Result<(String, Gateway)> {
    let gateway = Gateway::new(
        Upstream::new(upstream, model, resilience)?,
        Keys::new(Duration::from_secs(600)),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = gateway.clone().router();
    tokio::spawn(gateway::serve(listener, app, std::future::pending()));
    Ok((base, gateway))
}
