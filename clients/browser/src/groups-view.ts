/** Renders the note groups: most recent place first, newest note first, so the latest is on top. */
import type { Feature } from './features.js';
import type { NoteGroup } from './note-groups.js';

/** Notes shown per place; older ones are summarised. */
const SHOWN_PER_GROUP = 8;

export function renderGroups(
  list: HTMLOListElement,
  groups: readonly NoteGroup[],
  featureAt: (latitude: number, longitude: number) => Feature | undefined,
  degrees: (e7: number) => string,
): void {
  const doc = list.ownerDocument;
  const items = groups.map((group) => {
    const item = doc.createElement('li');
    item.className = 'group';
    item.dataset.location = group.key;
    const header = doc.createElement('div');
    header.className = 'group-header';
    const name = doc.createElement('h3');
    name.textContent = featureAt(group.latitude, group.longitude)?.name ?? 'Unnamed spot';
    const where = doc.createElement('span');
    where.className = 'coords-text';
    where.textContent = `${degrees(group.latitude)}, ${degrees(group.longitude)}`;
    header.append(name, where);

    const notes = doc.createElement('ol');
    notes.className = 'group-notes';
    const newestFirst = [...group.notes].reverse();
    for (const note of newestFirst.slice(0, SHOWN_PER_GROUP)) {
      const entry = doc.createElement('li');
      entry.className = ['note', note.mine ? 'mine' : 'theirs', note.fresh ? 'fresh' : ''].join(' ').trim();
      const text = doc.createElement('span');
      text.className = 'note-text';
      text.textContent = note.message === '' ? '(empty note)' : note.message;
      const who = doc.createElement('span');
      who.className = 'who';
      who.textContent = note.mine ? 'you' : 'other';
      const time = doc.createElement('time');
      time.className = 'when';
      time.dateTime = new Date(note.at).toISOString();
      time.textContent = new Date(note.at).toLocaleTimeString([], {
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
      });
      const meta = doc.createElement('span');
      meta.className = 'meta';
      meta.append(who, time);
      entry.append(text, meta);
      notes.append(entry);
    }
    item.append(header, notes);
    const older = newestFirst.length - SHOWN_PER_GROUP;
    if (older > 0) {
      const more = doc.createElement('p');
      more.className = 'older';
      more.textContent = `and ${older} older`;
      item.append(more);
    }
    return item;
  });
  list.replaceChildren(...items);
}
