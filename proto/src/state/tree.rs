//! Queries over the room tree: ancestry, depth, paths.

use super::{ROOT, RoomId, State};

impl State {
    /// Depth of a room (the root is 0); `None` for an unknown room.
    pub fn depth(&self, id: RoomId) -> Option<usize> {
        let mut depth = 0;
        let mut cur = id;
        while cur != ROOT {
            cur = self.rooms.get(&cur)?.parent;
            depth += 1;
            if depth > self.rooms.len() {
                return None; // unreachable while the tree is valid
            }
        }
        self.rooms.contains_key(&id).then_some(depth)
    }

    /// The rooms from the root down to `id`, both included; empty for an unknown room.
    pub fn chain(&self, id: RoomId) -> Vec<RoomId> {
        let mut chain = Vec::new();
        let mut cur = id;
        loop {
            if !self.rooms.contains_key(&cur) || chain.len() > self.rooms.len() {
                return Vec::new();
            }
            chain.push(cur);
            if cur == ROOT {
                break;
            }
            cur = self.rooms[&cur].parent;
        }
        chain.reverse();
        chain
    }

    /// Whether `id` is `ancestor` or lies below it.
    pub fn is_within(&self, id: RoomId, ancestor: RoomId) -> bool {
        self.chain(id).contains(&ancestor)
    }

    /// The number of levels below `id` (0 for a leaf).
    pub fn height(&self, id: RoomId) -> usize {
        self.children(id)
            .map(|c| 1 + self.height(c))
            .max()
            .unwrap_or(0)
    }

    /// Every room of the subtree at `id`, children after their parent.
    pub fn subtree(&self, id: RoomId) -> Vec<RoomId> {
        let mut out = vec![id];
        let mut i = 0;
        while i < out.len() {
            out.extend(self.children(out[i]));
            i += 1;
        }
        out
    }

    /// The path of a room, like `/Games/Chess` (the root is `/`).
    pub fn path(&self, id: RoomId) -> Option<String> {
        let chain = self.chain(id);
        if chain.is_empty() {
            return None;
        }
        if chain.len() == 1 {
            return Some("/".to_owned());
        }
        let mut path = String::new();
        for room in &chain[1..] {
            path.push('/');
            path.push_str(&self.rooms[room].name);
        }
        Some(path)
    }

    /// Resolves a user's room reference: a numeric id, a path from the root
    /// (`/A/B` or `A/B`, names compared without regard to case), or a name
    /// that only one room has.
    pub fn resolve_room(&self, reference: &str) -> Result<RoomId, String> {
        let reference = reference.trim();
        if let Ok(id) = reference.parse::<RoomId>() {
            return if self.rooms.contains_key(&id) {
                Ok(id)
            } else {
                Err(format!("no room with id {id}"))
            };
        }
        let path = reference
            .strip_prefix('/')
            .or_else(|| reference.contains('/').then_some(reference));
        if let Some(path) = path {
            let mut cur = ROOT;
            for part in path.split('/').filter(|p| !p.is_empty()) {
                cur = self
                    .child_named(cur, part)
                    .ok_or_else(|| format!("no room at path {reference:?}"))?;
            }
            return Ok(cur);
        }
        let matches: Vec<RoomId> = self
            .rooms
            .values()
            .filter(|r| r.name.eq_ignore_ascii_case(reference) || r.name == reference)
            .map(|r| r.id)
            .collect();
        match matches.as_slice() {
            [id] => Ok(*id),
            [] => Err(format!("no room named {reference:?}")),
            _ => Err(format!(
                "{} rooms are named {reference:?}; give a path like /Parent/Name or an id",
                matches.len()
            )),
        }
    }

    /// The child of `parent` with this name (case-insensitive), if any.
    pub fn child_named(&self, parent: RoomId, name: &str) -> Option<RoomId> {
        self.children(parent)
            .find(|c| same_name(&self.rooms[c].name, name))
    }
}

/// Room names among siblings are unique without regard to case.
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}
