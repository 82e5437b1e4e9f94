use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StateFileError {
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The same thread asked for a file it already holds: waiting would deadlock, so this is
    /// a bug in the caller (write through the [`crate::Locked`] it has instead).
    #[error("{} is already locked by this thread", path.display())]
    AlreadyHeld { path: PathBuf },
}

impl StateFileError {
    /// The underlying I/O error, for callers whose own error already names the file.
    pub fn into_source(self) -> std::io::Error {
        match self {
            StateFileError::Io { source, .. } => source,
            held @ StateFileError::AlreadyHeld { .. } => std::io::Error::new(std::io::ErrorKind::WouldBlock, held),
        }
    }

    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> StateFileError {
        let path = path.into();
        move |source| StateFileError::Io { action, path, source }
    }
}

/// For callers whose own errors carry an `io::Error` (the kind is kept, the message names the
/// file and what failed).
impl From<StateFileError> for std::io::Error {
    fn from(e: StateFileError) -> Self {
        let kind = match &e {
            StateFileError::Io { source, .. } => source.kind(),
            StateFileError::AlreadyHeld { .. } => std::io::ErrorKind::WouldBlock,
        };
        std::io::Error::new(kind, e)
    }
}
