//! PLACEHOLDER until the loader lands in this session.
#[derive(Debug)]
pub struct RawConfig {}
