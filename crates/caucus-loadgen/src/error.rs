//! What can go wrong while driving a server.

/// A failed setup step, request or wait.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Setup(String),
    #[error("client: {0}")]
    Client(#[from] caucus_client::ClientError),
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("REST {method} {path} answered {status}: {body}")]
    Rest {
        method: String,
        path: String,
        status: u16,
        body: String,
    },
}

impl Error {
    pub fn setup(message: impl Into<String>) -> Error {
        Error::Setup(message.into())
    }
}

pub type Result<T> = std::result::Result<T, Error>;
