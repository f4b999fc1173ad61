//! Weir configuration: one schema, an embedded commented default file.
