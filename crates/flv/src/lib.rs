//! FLV tags and AMF0 for Weir (sans-IO).
