//! The map type for lookups keyed by names from configuration.

use std::collections::HashMap;

/// A map keyed by names from configuration, looked up on every call: nobody outside can
/// add keys, so a fast hash (seeded per process) serves better than SipHash.
pub type ConfigMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
