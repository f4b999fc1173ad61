//! HLS segmenting and playlists for Weir (sans-IO).
