// Original file: proto/route_guide.proto


export interface Point {
  'latitude'?: (number);
  'longitude'?: (number);
}

export interface Point__Output {
  'latitude': (number);
  'longitude': (number);
}
