//! Finding labelled recordings: which files under a folder are audio, and where a recording's
//! class name comes from (its file name or its folder).

use crate::error::PipelineError;
use std::path::{Path, PathBuf};

/// File name endings taken as audio when walking a folder.
pub const AUDIO_EXTENSIONS: &[&str] = &["aiff", "aif", "aifc", "wav", "flac", "mp3", "ogg", "oga"];

/// Where a recording's class name comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelFrom {
    /// The first dot-separated token of the file name (`SopSax.Vib.pp.C6Eb6.aiff` -> SopSax).
    Name,
    /// The name of the folder that holds the file.
    Folder,
}

impl LabelFrom {
    /// The option value that selects it (`name` or `folder`).
    pub fn as_str(self) -> &'static str {
        match self {
            LabelFrom::Name => "name",
            LabelFrom::Folder => "folder",
        }
    }
}

/// The class name of `path`, or `None` when it has none.
pub fn label_of(path: &Path, from: LabelFrom) -> Option<String> {
    let label = match from {
        LabelFrom::Name => path.file_name()?.to_str()?.split('.').next()?.to_string(),
        LabelFrom::Folder => path.parent()?.file_name()?.to_str()?.to_string(),
    };
    (!label.is_empty()).then_some(label)
}

fn is_audio(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Every audio file under `dir` (recursively), sorted by path so runs are reproducible.
pub fn audio_files(dir: &Path) -> Result<Vec<PathBuf>, PipelineError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries =
            std::fs::read_dir(&d).map_err(|e| PipelineError::io(&d, "cannot read folder", e))?;
        for entry in entries {
            let path = entry
                .map_err(|e| PipelineError::io(&d, "cannot read folder", e))?
                .path();
            if path.is_dir() {
                stack.push(path);
            } else if is_audio(&path) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The audio files under the folder `dir` ([`audio_files`]); a folder without any is an error
/// that names it.
pub fn audio_files_in(dir: &Path) -> Result<Vec<PathBuf>, PipelineError> {
    let found = audio_files(dir)?;
    if found.is_empty() {
        return Err(PipelineError::Input {
            path: dir.to_path_buf(),
            msg: format!(
                "no audio files in this folder (looked for .{})",
                AUDIO_EXTENSIONS.join(", .")
            ),
        });
    }
    Ok(found)
}

/// Expands command-line inputs: files stay, folders become the audio files under them (a folder
/// without any is an error that names it).
pub fn expand_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, PipelineError> {
    let mut out = Vec::new();
    for p in inputs {
        if p.is_dir() {
            out.extend(audio_files_in(p)?);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_from_name_and_folder() {
        let p = Path::new("/x/Strings/SopSax.Vib.pp.C6Eb6.aiff");
        assert_eq!(label_of(p, LabelFrom::Name).as_deref(), Some("SopSax"));
        assert_eq!(label_of(p, LabelFrom::Folder).as_deref(), Some("Strings"));
        assert_eq!(label_of(Path::new(".hidden.wav"), LabelFrom::Name), None);
    }

    #[test]
    fn a_folder_lists_its_audio_files_sorted_and_recursively() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        for name in ["b.wav", "a.AIFF", "notes.txt", "sub/c.flac"] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        let names: Vec<String> = audio_files(dir.path())
            .unwrap()
            .iter()
            .map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["a.AIFF", "b.wav", "sub/c.flac"]);
    }
}
