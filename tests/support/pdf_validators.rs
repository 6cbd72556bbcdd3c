//! The two independent validators of sealed PDFs, run as the tools a bank or a court would run:
//! poppler's `pdfsig` and pyHanko (`pyhanko sign validate`) with a given root as the only trust
//! anchor. Required: without them the tests fail, saying what to install
//! (`scripts/ensure-document-tools.sh`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn require(tool: &str, package: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(tool))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "`{tool}` is not installed: these tests need it to validate the sealed PDFs ({package})"
        )
    })
}

pub struct Outcome {
    pub success: bool,
    pub text: String,
}

fn run(program: &Path, args: &[&str]) -> Outcome {
    let out = Command::new(program).args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Outcome {
        success: out.status.success(),
        text,
    }
}

pub fn pdfsig(file: &Path) -> Outcome {
    let pdfsig = require("pdfsig", "Debian: apt-get install -y poppler-utils");
    run(&pdfsig, &[file.to_str().unwrap()])
}

/// `pyhanko sign validate` offline, with `root` as the only trust anchor: the one-line summary
/// (`FIELD:HASH:INTACT:TRUSTED,UNTOUCHED`), or the detailed report.
pub fn pyhanko(file: &Path, root: &Path, pretty: bool) -> Outcome {
    let pyhanko = require("pyhanko", "PyPI: pip3 install pyhanko-cli");
    let mut args = vec![
        "sign",
        "validate",
        "--trust",
        root.to_str().unwrap(),
        "--trust-replace",
        "--no-revocation-check",
    ];
    if pretty {
        args.push("--pretty-print");
    }
    args.push(file.to_str().unwrap());
    run(&pyhanko, &args)
}
