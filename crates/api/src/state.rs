//! State shared by every handler.

use std::sync::Arc;

use catalog::Repository;

use crate::cors::CorsConfig;

#[derive(Clone)]
pub struct AppState {
    pub repository: Arc<dyn Repository>,
    pub cors: CorsConfig,
}

impl AppState {
    pub fn new(repository: Arc<dyn Repository>, cors: CorsConfig) -> AppState {
        AppState { repository, cors }
    }
}
