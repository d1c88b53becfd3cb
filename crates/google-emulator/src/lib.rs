//! An in-memory emulator of Google OAuth, People and Calendar.
