//! The database is owner-only: `caucus.db`, its `-wal` and `-shm` files 0600 and a data
//! directory the store creates 0700, whatever the umask, like the token secret.
#![cfg(unix)]
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use caucus_store::{SqliteStore, Store};
use common::{TempDir, room};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn the_database_and_its_companions_are_owner_only() {
    let scratch = TempDir::new("modes");
    let data = scratch.path().join("nested").join("data");
    let store = SqliteStore::open(&data).unwrap();
    // A write, so that the WAL and the shared-memory index exist.
    store.create_room(&room("r1", "breakout", 1)).unwrap();
    assert_eq!(mode(&data), 0o700, "data dir");
    assert_eq!(mode(&scratch.path().join("nested")), 0o700, "its parent");
    for file in ["caucus.db", "caucus.db-wal", "caucus.db-shm"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
}

#[test]
fn a_database_left_readable_is_narrowed_on_open() {
    let scratch = TempDir::new("modes-old");
    let data = scratch.path();
    let store = SqliteStore::open(data).unwrap();
    store.create_room(&room("r1", "breakout", 1)).unwrap();
    drop(store);
    let db = data.join("caucus.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = SqliteStore::open(data).unwrap();
    store.create_room(&room("r2", "breakout", 2)).unwrap();
    for file in ["caucus.db", "caucus.db-wal", "caucus.db-shm"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
}
