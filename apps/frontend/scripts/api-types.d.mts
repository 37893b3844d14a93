export declare const documentUrl: URL;
export declare const schemaUrl: URL;
export declare function generate(): Promise<string>;
