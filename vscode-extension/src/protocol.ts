// The editor protocol types the extension uses: one import point over the generated file.
export * from './protocol.generated';
