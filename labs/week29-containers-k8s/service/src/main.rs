//! `week29-scorer`: the service of `app.rs` as a process. On SIGTERM (what the kubelet sends
//! before it stops a pod) it stops being ready, finishes the requests in flight and exits 0.

mod app;

use std::future::IntoFuture;
use std::process::ExitCode;
use std::sync::Arc;

#[tokio::main]
async fn main() -> ExitCode {
    let config = match app::Config::from_env(|k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("week29-scorer: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(&config.addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("week29-scorer: ADDR {}: {e}", config.addr);
            return ExitCode::from(2);
        }
    };
    let state = app::AppState::new();
    let loading = {
        let (state, config) = (Arc::clone(&state), config.clone());
        tokio::spawn(async move { app::load(&state, &config).await })
    };
    eprintln!("week29-scorer: listening on {}", config.addr);
    let shutdown = {
        let state = Arc::clone(&state);
        async move {
            if let Ok(mut term) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            {
                tokio::select! { _ = term.recv() => {}, _ = tokio::signal::ctrl_c() => {} }
            } else {
                let _ = tokio::signal::ctrl_c().await;
            }
            eprintln!("week29-scorer: draining");
            state.drain();
        }
    };
    let serving = tokio::spawn(
        axum::serve(listener, app::router(Arc::clone(&state)))
            .with_graceful_shutdown(shutdown)
            .into_future(),
    );
    match loading.await {
        Ok(Ok(())) => eprintln!("week29-scorer: ready"),
        Ok(Err(e)) => {
            eprintln!("week29-scorer: {e}");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("week29-scorer: loading: {e}");
            return ExitCode::FAILURE;
        }
    }
    match serving.await {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("week29-scorer: {e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("week29-scorer: {e}");
            ExitCode::FAILURE
        }
    }
}
