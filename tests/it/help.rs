//! The help and docs generated from the command-line definitions: an `Examples:` section in every
//! command's `--help`, `instclf completions <shell>` and `instclf man [COMMAND]`.

use crate::common::{instclf, stderr, stdout};

/// The command names listed under `Commands:` in a help text (`help` left out).
fn commands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn every_command_has_examples_in_its_help() {
    let top = instclf(&["--help"]);
    assert!(top.status.success());
    let mut todo: Vec<Vec<String>> = commands(&stdout(&top))
        .into_iter()
        .map(|c| vec![c])
        .collect();
    assert!(todo.len() >= 12, "{}", stdout(&top));
    assert!(stdout(&top).contains("Examples:"), "{}", stdout(&top));
    let mut seen = 0;
    while let Some(path) = todo.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let o = instclf(&args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let text = stdout(&o);
        // classify's examples come with the note-level classifier's reworked help.
        if path != ["classify"] {
            assert!(
                text.contains("\nExamples:\n  instclf "),
                "{args:?} has no examples"
            );
        }
        // The examples run from a checkout: every fixtures/ path they name exists.
        let examples = text.split("\nExamples:\n").nth(1).unwrap_or("");
        for word in examples.split_whitespace() {
            if let Some(rel) = word.trim_matches('\'').strip_prefix("fixtures/") {
                let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("fixtures")
                    .join(rel);
                assert!(
                    p.exists(),
                    "{args:?}: example names {word}, which does not exist"
                );
            }
        }
        for sub in commands(&text) {
            let mut p = path.clone();
            p.push(sub);
            todo.push(p);
        }
        seen += 1;
    }
    // dataset build|info, plot history|sweep and sweep merge are visited too.
    assert!(seen >= 18, "{seen}");
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    for shell in ["bash", "zsh", "fish"] {
        let o = instclf(&["completions", shell]);
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        let script = stdout(&o);
        assert!(
            !script.is_empty() && script.contains("classify") && script.contains("--output"),
            "{shell}: {script}"
        );
        // Every subcommand's options, and `help`'s tree of nested subcommands, though a run
        // defines only its own subcommand's options.
        assert!(
            script.contains("n-mfcc") && script.contains("average-from"),
            "{shell}: {script}"
        );
    }
    let bash = stdout(&instclf(&["completions", "bash"]));
    assert!(
        bash.contains("instclf__subcmd__help__subcmd__dataset__subcmd__build"),
        "{bash}"
    );
    let o = instclf(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("[possible values: bash, zsh, fish]"));
}

#[test]
fn man_pages_are_roff() {
    let o = instclf(&["man"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let page = stdout(&o);
    assert!(page.contains(".TH instclf 1"), "{page}");
    assert!(
        page.contains("classify") && page.contains("Examples:"),
        "{page}"
    );
    let o = instclf(&["man", "train"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let page = stdout(&o);
    assert!(
        page.contains(".TH instclf-train 1") && page.contains("resume"),
        "{page}"
    );
    let page = stdout(&instclf(&["man", "features"]));
    assert!(page.contains("n\\-mfcc"), "{page}");
    let o = instclf(&["man", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("'nope'") && err.contains("train"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
