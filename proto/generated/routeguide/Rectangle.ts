// Original file: proto/route_guide.proto

import type { Point as _routeguide_Point, Point__Output as _routeguide_Point__Output } from '../routeguide/Point.js';

export interface Rectangle {
  'lo'?: (_routeguide_Point | null);
  'hi'?: (_routeguide_Point | null);
}

export interface Rectangle__Output {
  'lo': (_routeguide_Point__Output | null);
  'hi': (_routeguide_Point__Output | null);
}
