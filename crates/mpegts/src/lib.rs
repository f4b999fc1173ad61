//! MPEG-TS muxing for Weir (sans-IO).
