/**
 * The seed's RouteChat scenario (the project's founding document, after the official RouteGuide
 * clients): six notes at three locations, each visited twice. Every client's demo and every test of
 * the scenario uses these.
 */
export interface SeedNote {
  readonly location: { readonly latitude: number; readonly longitude: number };
  readonly message: string;
}

export const SEED_NOTES: readonly SeedNote[] = [
  { location: { latitude: 0, longitude: 1 }, message: 'First message' },
  { location: { latitude: 0, longitude: 2 }, message: 'Second message' },
  { location: { latitude: 0, longitude: 3 }, message: 'Third message' },
  { location: { latitude: 0, longitude: 1 }, message: 'Fourth message' },
  { location: { latitude: 0, longitude: 2 }, message: 'Fifth message' },
  { location: { latitude: 0, longitude: 3 }, message: 'Sixth message' },
];

const at = (longitude: number, message: string): SeedNote => ({
  location: { latitude: 0, longitude },
  message,
});

/** What a fresh RouteGuide server sends back for SEED_NOTES: each note with its location's history. */
export const SEED_REPLIES: readonly SeedNote[] = [
  at(1, 'First message'),
  at(2, 'Second message'),
  at(3, 'Third message'),
  at(1, 'First message'),
  at(1, 'Fourth message'),
  at(2, 'Second message'),
  at(2, 'Fifth message'),
  at(3, 'Third message'),
  at(3, 'Sixth message'),
];

export const SEED_REPLY_MESSAGES: readonly string[] = SEED_REPLIES.map((note) => note.message);
