//! Examples of embedding and driving WhisperChat; see `examples/examples/`.
