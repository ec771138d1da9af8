//! Unit tests of watch.rs: symlinks on the way to the config (a Kubernetes
//! ConfigMap volume) and which file events reload.

use std::os::unix::fs::symlink;

use notify::event::{ModifyKind, RenameMode};

use super::*;

/// A ConfigMap volume as the kubelet writes it.
fn configmap() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("..2026_11_26_00_00_00.1");
    std::fs::create_dir_all(data.join("scripts/providers")).unwrap();
    std::fs::write(data.join("routes.yaml"), "routes: []\n").unwrap();
    symlink("..2026_11_26_00_00_00.1", dir.path().join("..data")).unwrap();
    symlink("..data/routes.yaml", dir.path().join("routes.yaml")).unwrap();
    symlink("..data/scripts", dir.path().join("scripts")).unwrap();
    dir
}

fn event(kind: EventKind, paths: &[PathBuf]) -> notify::Event {
    notify::Event {
        kind,
        paths: paths.to_vec(),
        attrs: Default::default(),
    }
}

#[test]
fn symlinks_of_a_configmap_volume_are_found() {
    let dir = configmap();
    let d = dir.path();
    assert_eq!(
        symlinks(d, Path::new("routes.yaml")),
        [d.join("routes.yaml"), d.join("..data")]
    );
    assert_eq!(
        symlinks(d, Path::new("scripts/providers")),
        [d.join("scripts"), d.join("..data")]
    );
    assert!(symlinks(d, Path::new("..2026_11_26_00_00_00.1/routes.yaml")).is_empty());
}

#[test]
fn a_symlink_loop_ends() {
    let dir = tempfile::tempdir().unwrap();
    symlink("b", dir.path().join("a")).unwrap();
    symlink("a", dir.path().join("b")).unwrap();
    assert_eq!(symlinks(dir.path(), Path::new("a")).len(), MAX_LINKS);
}

#[test]
fn renaming_data_over_the_old_link_is_relevant() {
    let dir = configmap();
    let d = dir.path();
    let t = Targets::new(&d.join("routes.yaml"), &d.join("scripts/providers"));
    assert_eq!(t.dirs(), [d.to_path_buf(), d.join("scripts/providers")]);
    let renamed = event(
        EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
        &[d.join("..data_tmp"), d.join("..data")],
    );
    assert!(t.relevant(&renamed));
    let new_dir = event(
        EventKind::Create(notify::event::CreateKind::Folder),
        &[d.join("..2026_11_26_00_01_00.2")],
    );
    assert!(!t.relevant(&new_dir));
    let read = event(
        EventKind::Access(notify::event::AccessKind::Any),
        &[d.join("routes.yaml")],
    );
    assert!(!t.relevant(&read));
}

#[test]
fn a_plain_directory_has_no_links_and_script_edits_are_relevant() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("scripts/providers")).unwrap();
    let t = Targets::new(&d.join("routes.yaml"), &d.join("scripts/providers"));
    assert!(t.links.is_empty());
    let edit = event(
        EventKind::Modify(ModifyKind::Any),
        &[d.join("scripts/providers/custom.rhai")],
    );
    assert!(t.relevant(&edit));
    let other = event(EventKind::Modify(ModifyKind::Any), &[d.join("notes.txt")]);
    assert!(!t.relevant(&other));
}
