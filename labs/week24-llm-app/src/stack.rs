//! The pieces started on loopback, as the lab and its checks assemble them: the model server
//! (wb-llm's OpenAI-compatible one, also served on its own port for the bare-model comparison)
//! and the API in front of it.

use crate::counter::PromptCounter;
use crate::ledger::Ledger;
use crate::pricing::Price;
use crate::service::Api;
use std::sync::Arc;
use wb_llm::ChatModel;
use wb_llm::server;

/// What [`start`] started.
pub struct Stack {
    /// The API's base URL (`http://127.0.0.1:port`).
    pub api_base: String,
    /// The bare model server's base URL: the same router the API calls in-process.
    pub model_base: String,
    pub api: Api,
}

/// Starts `model` behind wb-llm's server (`queue` requests may wait for it) and the API in
/// front of it on `ledger` at `api_addr` (`127.0.0.1:0`: a free port), the model server on a free
/// loopback port, on the calling tokio runtime.
pub async fn start(
    api_addr: &str,
    ledger: Arc<Ledger>,
    counter: PromptCounter,
    model: Box<dyn ChatModel + Send>,
    queue: usize,
    price: Price,
) -> crate::Result<Stack> {
    let name = model.name().to_string();
    let config = server::Config {
        queue,
        ..server::Config::default()
    };
    let (model_router, _stats, _worker) = server::router(model, None, &config);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let model_base = format!("http://{}", listener.local_addr()?);
    let bare = model_router.clone();
    tokio::spawn(async move { axum::serve(listener, bare).await });
    let api = Api::new(ledger, counter, model_router, &name, price);
    let listener = tokio::net::TcpListener::bind(api_addr).await?;
    let api_base = format!("http://{}", listener.local_addr()?);
    let app = api.router();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(Stack {
        api_base,
        model_base,
        api,
    })
}
