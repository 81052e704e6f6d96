import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

@Entity('audit_log')
export class AuditEntry {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'timestamptz', insert: false, update: false })
  at: Date;

  @Column({ type: 'uuid', name: 'actor_key_id', nullable: true })
  actorKeyId: string | null;

  @Column({ type: 'text', name: 'actor_name' })
  actorName: string;

  @Column('text')
  action: string;

  @Column({ type: 'text', name: 'target_type' })
  targetType: string;

  @Column({ type: 'uuid', name: 'target_id', nullable: true })
  targetId: string | null;

  @Column({ type: 'jsonb' })
  changes: Record<string, unknown>;

  @Column({ type: 'uuid', name: 'account_id', nullable: true })
  accountId: string | null;
}
