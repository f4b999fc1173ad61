//! RTMP handshake, chunk stream and commands for Weir (sans-IO).
