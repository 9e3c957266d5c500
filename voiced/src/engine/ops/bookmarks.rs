//! Saved servers.

use voice_proto::pb::control::Bookmark;

use crate::config::{self, Bookmark as SavedBookmark};
use crate::connection::dial;
use crate::engine::Engine;
use crate::error::Error;

impl Engine {
    /// Saved servers.
    pub fn bookmarks(&self) -> Result<Vec<Bookmark>, Error> {
        let marks = config::load_bookmarks(&self.inner.paths.bookmarks_file())
            .map_err(|e| Error::Failed(e.to_string()))?;
        Ok(marks
            .into_iter()
            .map(|b| Bookmark {
                name: b.name,
                server: b.server,
                display_name: b.display_name,
                password: b.password,
            })
            .collect())
    }

    /// Adds or replaces a bookmark.
    pub fn save_bookmark(&self, b: Bookmark) -> Result<Vec<Bookmark>, Error> {
        if b.name.trim().is_empty() {
            return Err(Error::Invalid("a bookmark needs a name".into()));
        }
        let server = dial::normalize_server(&b.server).map_err(Error::Invalid)?;
        let path = self.inner.paths.bookmarks_file();
        let writing = self.writing();
        let mut marks = config::load_bookmarks(&path).map_err(|e| Error::Failed(e.to_string()))?;
        marks.retain(|m| m.name != b.name);
        marks.push(SavedBookmark {
            name: b.name.trim().to_owned(),
            server,
            display_name: b.display_name,
            password: b.password,
        });
        marks.sort_by(|a, b| a.name.cmp(&b.name));
        config::save_bookmarks(&path, &marks).map_err(|e| Error::Failed(e.to_string()))?;
        drop(writing);
        self.bookmarks()
    }

    /// Removes a bookmark.
    pub fn remove_bookmark(&self, name: &str) -> Result<Vec<Bookmark>, Error> {
        let path = self.inner.paths.bookmarks_file();
        let writing = self.writing();
        let mut marks = config::load_bookmarks(&path).map_err(|e| Error::Failed(e.to_string()))?;
        let before = marks.len();
        marks.retain(|m| m.name != name);
        if marks.len() == before {
            return Err(Error::NotFound(format!(
                "no bookmark {name:?}; `voicectl server list` shows them"
            )));
        }
        config::save_bookmarks(&path, &marks).map_err(|e| Error::Failed(e.to_string()))?;
        drop(writing);
        self.bookmarks()
    }
}
