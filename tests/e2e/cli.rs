//! The `admin` commands of the real binary, on a SQLite data directory.

use std::process::{Command, Output};

fn switchboard(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn ok(out: Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "failed: {text}\n{}", String::from_utf8_lossy(&out.stderr));
    text
}

fn fails(out: Output, message: &str) {
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(message), "expected '{message}' in: {err}");
}

#[test]
fn admin_commands_manage_workspaces_users_agents_and_keys() {
    let dir = std::env::temp_dir().join(format!("switchboard-cli-{}", uuid::Uuid::now_v7().simple()));
    let d = dir.as_path();
    assert!(ok(switchboard(d, &["migrate"])).contains("migrations applied"));
    assert!(
        ok(switchboard(d, &["admin", "create-workspace", "--name", "Acme Plumbing"])).contains("slug acme-plumbing")
    );
    fails(switchboard(d, &["admin", "create-workspace", "--name", "Acme Plumbing"]), "slug: is taken");
    assert!(ok(switchboard(d, &["admin", "list-workspaces"])).contains("acme-plumbing"));

    let user = ok(switchboard(
        d,
        &["admin", "create-user", "--workspace", "acme-plumbing", "--email", "Ann@Acme.test", "--role", "admin"],
    ));
    assert!(
        user.contains("added ann@acme.test to acme-plumbing as admin") && user.contains("password (shown once): "),
        "{user}"
    );
    fails(
        switchboard(d, &["admin", "create-user", "--workspace", "acme-plumbing", "--email", "x", "--role", "admin"]),
        "--email",
    );
    fails(switchboard(d, &["admin", "create-user", "--workspace", "nope", "--email", "a@b.co"]), "no workspace 'nope'");

    assert!(
        ok(switchboard(
            d,
            &["admin", "create-agent", "--workspace", "acme-plumbing", "--code", "AG1", "--name", "Bob"]
        ))
        .contains("created agent AG1")
    );
    let key = ok(switchboard(
        d,
        &["admin", "create-api-key", "--workspace", "acme-plumbing", "--name", "bob phone", "--agent", "AG1"],
    ));
    assert!(key.contains("scopes: contacts:read contacts:write"), "{key}");
    let secret = key.split("key (shown once): ").nth(1).unwrap().trim().to_owned();
    assert!(secret.starts_with("sk_"));
    fails(
        switchboard(d, &["admin", "create-api-key", "--workspace", "acme-plumbing", "--name", "k", "--scopes", "root"]),
        "unknown scope 'root'",
    );
    fails(
        switchboard(d, &["admin", "create-api-key", "--workspace", "acme-plumbing", "--name", "k"]),
        "--scopes is required",
    );

    let list = ok(switchboard(d, &["admin", "list-api-keys", "--workspace", "acme-plumbing"]));
    let prefix = &secret[3..13];
    assert!(list.contains(prefix) && list.contains("active") && !list.contains(&secret), "{list}");
    assert!(
        ok(switchboard(d, &["admin", "revoke-api-key", "--workspace", "acme-plumbing", "--key", prefix]))
            .contains("revoked bob phone")
    );
    assert!(ok(switchboard(d, &["admin", "list-api-keys", "--workspace", "acme-plumbing"])).contains("revoked"));
    assert!(
        ok(switchboard(d, &["admin", "deactivate-agent", "--workspace", "acme-plumbing", "--code", "AG1"]))
            .contains("deactivated agent AG1")
    );
    fails(
        switchboard(d, &["admin", "deactivate-agent", "--workspace", "acme-plumbing", "--code", "AG9"]),
        "no agent 'AG9'",
    );

    let help = ok(Command::new(env!("CARGO_BIN_EXE_switchboard")).args(["serve", "--help"]).output().unwrap());
    for env in ["SWITCHBOARD_BIND", "DATABASE_URL", "SWITCHBOARD_RATE_LIMIT_PER_MINUTE", "SWITCHBOARD_DATA_DIR"] {
        assert!(help.contains(env), "--help names {env}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn directory_tokens_from_the_cli() {
    let dir = std::env::temp_dir().join(format!("switchboard-cli-{}", uuid::Uuid::now_v7().simple()));
    let d = dir.as_path();
    ok(switchboard(d, &["admin", "create-workspace", "--name", "Acme"]));
    let created = ok(switchboard(
        d,
        &[
            "admin",
            "create-directory-token",
            "--workspace",
            "acme",
            "--name",
            "Lobby phones",
            "--labels",
            "sales,vip",
            "--cap",
            "yealink=300",
            "--base-url",
            "http://pbx.example:8080/",
        ],
    ));
    let token = created
        .lines()
        .find_map(|l| l.strip_prefix("token (shown once): "))
        .unwrap_or_else(|| panic!("{created}"))
        .trim()
        .to_owned();
    assert!(created.contains(&format!("http://pbx.example:8080/d/{token}/directory.xml")), "{created}");
    assert!(created.contains(&format!("http://pbx.example:8080/d/{token}/yealink.xml")), "{created}");
    let listed = ok(switchboard(d, &["admin", "list-directory-tokens", "--workspace", "acme"]));
    assert!(listed.contains("Lobby phones") && listed.contains("labels=sales,vip"), "{listed}");
    assert!(!listed.contains(&token), "lists never show the token");
    let id = listed.split_whitespace().next().unwrap().to_owned();
    fails(
        switchboard(d, &["admin", "create-directory-token", "--workspace", "acme", "--name", "X", "--cap", "nokia=5"]),
        "caps.nokia",
    );
    fails(
        switchboard(d, &["admin", "create-directory-token", "--workspace", "acme", "--name", "X", "--cap", "poly"]),
        "expected VENDOR=N",
    );
    let revoked = ok(switchboard(d, &["admin", "revoke-directory-token", "--workspace", "acme", "--id", &id]));
    assert!(revoked.contains("revoked directory token Lobby phones"), "{revoked}");
    assert!(ok(switchboard(d, &["admin", "list-directory-tokens", "--workspace", "acme"])).contains("revoked"));
    let _ = std::fs::remove_dir_all(d);
}
