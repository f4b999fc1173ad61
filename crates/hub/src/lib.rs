//! The Weir stream hub: registry, publisher lease, fan-out, GOP cache.
