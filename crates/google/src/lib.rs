//! Google People, Calendar and OAuth: typed wire structs and one async client.
