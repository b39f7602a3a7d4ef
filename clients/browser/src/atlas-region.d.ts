/** The map's counties, cut from us-atlas when the page is built (clients/browser/atlas.ts, build.ts). */
declare module 'atlas:region' {
  const region: import('../atlas.js').RegionTopology;
  export default region;
}
